export { main, COMMANDS } from './main.js';
export { loadAnyModel, saveAnyModel, formatOf } from './models.js';
export { loadRegistry } from './registry.js';
export { stageTable, textTable } from './table.js';
export { runDemo, type DemoOptions, type DemoResult } from './commands/demo.js';
