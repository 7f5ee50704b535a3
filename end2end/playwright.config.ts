import { defineConfig } from '@playwright/test';

// Each Playwright worker starts its own Beckon server on a free port with a throwaway data
// directory, shared by the tests that worker runs; tests that move the clock get a server
// of their own (see tests/fixtures.ts). Nothing here names a port.
export default defineConfig({
  testDir: './tests',
  fullyParallel: false,
  workers: process.env.CI ? 2 : undefined,
  retries: 0,
  // Generous: two workers share two cores with the debug build; a green run never waits for it.
  timeout: 60_000,
  expect: { timeout: 10_000 },
  reporter: [['list']],
  use: {
    trace: 'retain-on-failure',
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
      args: [
        '--no-sandbox',
        '--disable-gpu',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--no-first-run',
      ],
    },
  },
});
