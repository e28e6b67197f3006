export { buildReport, layerReports, histogram, type Report, type LayerReport, type SensitivityCurve, type Histogram, type LayerReconstruction, type StageReconstruction } from './data.js';
export { renderReportHtml } from './html.js';
export { writeReport, readReport, renderReportFromJson, writeFileAtomic, REPORT_JSON, REPORT_HTML } from './write.js';
