export { hiddenForFileSize, modelFileSize, nearestModelSizes, parseModel } from './format.js';
export { dataFileSize, loadDataWindow, loadModel, readDataBytes, scanDataWindow, sha256, type DataWindow, type LoadedModel } from './load.js';
