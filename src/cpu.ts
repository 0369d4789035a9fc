/** CPU seconds of this process (all its threads, user and system) so far: what a measurement on a shared machine counts rather than wall-clock time. */
export function cpuSeconds(): number {
  const usage = process.cpuUsage();
  return (usage.user + usage.system) / 1e6;
}
