/**
 * The pure core's public surface: model, keys, allocation, validation, policy evaluation, state file.
 * Start with `compileMesh` (compile.ts); see model.ts for the pipeline.
 */
export * from "./model";
export * from "./keys";
export * from "./allocate";
export * from "./names";
export * from "./validate";
export * from "./desired";
export * from "./policy";
export * from "./compile";
export * from "./ports";
export * from "./access";
export * from "./statefile";
export * from "./statecrypt";
export * as cidr from "./cidr";
