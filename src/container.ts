// A CPU runner of the default model as a Cloudflare Container (wrangler.toml [[containers]]). Containers
// have no GPUs, so GPU runners are URL targets; this one serves the small embedded model. Containers cannot
// run inside the vitest pool or under `wrangler dev` without Docker: tests use a service binding instead.
import { Container } from "@cloudflare/containers";

export class RunnerContainer extends Container {
  defaultPort = 8100;
  sleepAfter = "10m";
}
