export { hiddenForFileSize, modelFileSize, nearestModelSizes, parseModel } from './format.js';
export { dataFileSize, loadDataWindow, loadModel, sha256, type DataWindow, type LoadedModel } from './load.js';
