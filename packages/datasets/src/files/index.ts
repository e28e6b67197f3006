export { FASHION_MNIST_NAME, loadDataPath, type LoadOptions, type LoadedData } from './load.js';
export { readImageFolder, IMAGE_EXTENSIONS, type ImageFolder, type ImageFolderOptions } from './images.js';
export { parseNpy, readNpy, readNpz } from './npy.js';
export { readCsv, type CsvOptions, type CsvData } from './csv.js';
export { pixelMap, parseInputRange, parseNumbers, INPUT_RANGES, type Preprocess, type InputRange } from './preprocess.js';
