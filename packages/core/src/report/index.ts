export {
  buildReport,
  layerReports,
  histogram,
  type Report,
  type LayerReport,
  type SensitivityCurve,
  type Histogram,
  type LayerReconstruction,
  type StageReconstruction,
  type WrittenModel,
  type WrittenWeight,
} from './data.js';
export { renderReportHtml } from './html.js';
export { writeReport, readReport, renderReportFromJson, REPORT_JSON, REPORT_HTML } from './write.js';
