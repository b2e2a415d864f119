// Every workflow the worker registers; the worker bundles this file.
export { orderWorkflow } from './order';
export { reconciliationWorkflow } from './reconciliation';
export { careHomeWorkflow } from './care-home';
export { accidentClaimWorkflow } from './accident-claim';
