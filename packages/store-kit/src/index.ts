export { describeStoreConformance, type StoreKitClock, type StoreKitOptions } from './describe-store.js';
export { BucketModel, EPSILON, tolerance } from './model.js';
export { type Scenario, type Step, scenarios } from './scenarios.js';
