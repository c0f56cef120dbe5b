/**
 * Which repositories a caller may pull. Search, the catalog and repository summaries pass every
 * name through one, so results never show a repository its caller could not pull.
 */
export type RepositoryFilter = (name: string) => boolean;

/** The filter of a registry without authentication: everyone may pull everything. */
export const allowAll: RepositoryFilter = () => true;
