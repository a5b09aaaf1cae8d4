// Shapes shared by the benchmark sections and the report.

/** One target of issue 7, checked against a measurement of the same run. */
export interface Target {
  id: string;
  what: string;
  limit: string;
  measured: string;
  /** undefined: could not be measured in this run (see `note`). */
  met: boolean | undefined;
  note?: string;
}
