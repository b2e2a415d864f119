// Every workflow the worker registers; the worker bundles this file.
export { orderWorkflow } from './order';
export { reconciliationWorkflow } from './reconciliation';
