/** The injection token of the module's parsed configuration (`TollgateConfig`). */
export const TOLLGATE_CONFIG: unique symbol = Symbol.for('tollgate.nestjs.config') as never;
