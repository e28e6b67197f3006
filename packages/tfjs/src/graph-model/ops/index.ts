/** The op families of graph-model import and export, one file each. */
import './core.js';
import './conv.js';
import './matmul.js';
import './activation.js';
import './norm.js';
import './arithmetic.js';
import './pooling.js';
import './padding.js';
import './shape.js';
import './image.js';
