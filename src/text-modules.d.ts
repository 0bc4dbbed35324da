// Text files imported as strings: wrangler bundles `*.txt` as text modules by default, and the vitest pool
// does the same through `modulesRules` (vitest.config.ts). Used for the held-out text (src/campaigns/tasks.ts).
declare module "*.txt" {
  const text: string;
  export default text;
}
