import type Database from 'better-sqlite3';

/** A connection to a sparsetrace database (see open.ts for how one is opened). */
export type Db = Database.Database;
