export { selectBackend, ensureBackend, backendName, describeBackend, BACKEND_ENV, THREADS_ENV, type BackendChoice, type BackendSelection } from './backend.js';
