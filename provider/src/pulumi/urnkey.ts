/**
 * The internal input carrying a dynamic resource's own URN to its provider, which Pulumi's dynamic-provider
 * host does not pass, so progress is logged on the resource's row. Keys starting with "__" are internal:
 * the CLI shows them in no diff, and the lifecycles never see it (./dynamic.ts strips it). A module of its
 * own: the resource classes (program side) and ./dynamic.ts (provider side) share it without loading each
 * other.
 */
export const URN_KEY = "__urn";
