// RL mode in the lab (issue 18), on the production build with the shipped model on wasm, kept short
// (G = 4, 2 prompts a step, 8 tokens): a menu reward ("contains whale") runs 3 steps after a pause
// and a resume, draws the reward curve, fills the completions table (rewards 0 or 1, advantages
// centred within the group) and the before/after table, saves a checkpoint that downloads as a
// PEFT zip and resumes after a reload in RL mode. Then code rewards: one that loops forever is
// stopped at its time limit and the run pauses with the message (the page keeps answering), one
// that throws pauses the run with its line named, and nothing is trained in either case.
// With LOOPS_UPDATE_SCREENSHOT=1 the first session runs the lab's default setting instead (the
// example's: G = 8, 4 prompts a step, 24 tokens, reward ½·whale + ½·period) for 20 steps, prints
// the mean reward per step and the time per step, and the page is copied to
// docs/screenshots/lab-rl.png.
import { copyFileSync, mkdirSync, readFileSync } from 'node:fs';
import { strFromU8, unzipSync } from 'fflate';
import { expect, test, type Page } from '@playwright/test';

const MEASURE = !!process.env.LOOPS_UPDATE_SCREENSHOT;
const STEPS = MEASURE ? 20 : 3;

async function ready(page: Page): Promise<void> {
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  await expect(page.locator('#model-status')).toContainText('Ready:', { timeout: 120_000 });
}

async function settings(page: Page, steps: number): Promise<void> {
  await page.getByLabel('Samples per prompt (G)').fill('4');
  await page.getByLabel('Prompts per step').fill('2');
  await page.getByLabel('Max tokens per answer').fill('8');
  await page.getByLabel('RL steps').fill(String(steps));
}

/** The page answers at once (no hang): an animation frame comes within a second. */
async function responsive(page: Page): Promise<void> {
  const ms = await page.evaluate(
    () =>
      new Promise<number>((resolve) => {
        const t0 = performance.now();
        requestAnimationFrame(() => resolve(performance.now() - t0));
      }),
  );
  expect(ms).toBeLessThan(1000);
}

test('RL mode: a menu reward trains with its curve and tables; broken code rewards pause the run', async ({
  page,
}, info) => {
  page.on('console', (m) => {
    if (m.type() === 'error') console.log(`[page] ${m.text()}`);
  });
  await page.goto('/?backend=wasm');
  await ready(page);
  await page.getByLabel(/Reinforcement learning/).check();
  await expect(page.locator('#rl-view')).toBeVisible();
  await expect(page.locator('#sft-view')).toBeHidden();
  // The menu starts as the example's reward (whale + period).
  await expect(page.locator('#reward-terms li')).toHaveCount(2);
  if (MEASURE) {
    await page.getByLabel('RL steps').fill(String(STEPS));
  } else {
    // Short, and "contains whale" alone.
    await settings(page, STEPS);
    await page.getByRole('button', { name: 'Remove term 2' }).click();
    await expect(page.getByLabel('Term 1 word')).toHaveValue('whale');
    await page.getByLabel('Term 1 weight').fill('1');
    await page.getByLabel('Term 1 weight').dispatchEvent('change');
  }

  // Pause at once (it holds before the first step), then Resume.
  await page.getByRole('button', { name: 'Start RL' }).click();
  await page.getByRole('button', { name: 'Pause' }).click();
  await expect(page.locator('body')).toHaveAttribute('data-rl-state', 'paused', {
    timeout: 120_000,
  });
  await expect(page.locator('#rl-chart')).toHaveAttribute('data-points', '0');
  await page.waitForTimeout(1000);
  await expect(page.locator('#rl-chart')).toHaveAttribute('data-points', '0');
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(page.locator('#rl-status')).toContainText(`Finished at RL step ${STEPS}`, {
    timeout: MEASURE ? 1_800_000 : 240_000,
  });
  const points: { step: number; mean: number; std: number; seconds: number }[] = JSON.parse(
    (await page.locator('#rl-chart').getAttribute('data-history')) ?? '[]',
  );
  console.log(`mean reward per step: ${points.map((p) => p.mean.toFixed(3)).join(' ')}`);
  const seconds = points.map((p) => p.seconds).sort((a, b) => a - b);
  console.log(`seconds per step: median ${seconds[Math.floor(seconds.length / 2)]?.toFixed(1)}`);
  expect(points.map((p) => p.step)).toEqual(Array.from({ length: STEPS }, (_, i) => i + 1));
  for (const p of points) {
    // Rewards are in [0, 1]: so is the mean, and the spread is at most ½.
    expect(p.mean).toBeGreaterThanOrEqual(0);
    expect(p.mean).toBeLessThanOrEqual(1);
    expect(p.std).toBeLessThanOrEqual(0.5 + 1e-9);
  }
  await expect(page.locator('#rl-chart .uplot')).toBeVisible();
  const rows = page.locator('#rl-group tbody tr');
  await expect(rows).toHaveCount(MEASURE ? 8 : 4);
  const cells = await rows.evaluateAll((trs) =>
    trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent?.trim() ?? '')),
  );
  const rewards = cells.map((c) => Number(c[2]));
  const advantages = cells.map((c) => Number(c[3]));
  expect(rewards.every((r) => [0, 0.5, 1].includes(r) && (MEASURE || r !== 0.5))).toBe(true);
  // A = r − mean(r) within the group (two decimals shown).
  const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
  advantages.forEach((a, i) => expect(a).toBeCloseTo(rewards[i]! - mean, 2));
  expect(cells.every((c) => /^v\d+$/.test(c[4]!))).toBe(true);
  await expect(page.locator('#rl-compare tbody tr')).toHaveCount(2);
  await expect(page.locator('#rl-compare tbody tr').first().locator('td').nth(2)).toContainText(
    'reward',
  );
  const shot = info.outputPath('rl-mode.png');
  await page.screenshot({ path: shot, fullPage: true });
  await info.attach('rl-mode', { path: shot, contentType: 'image/png' });
  if (process.env.LOOPS_UPDATE_SCREENSHOT) {
    mkdirSync('docs/screenshots', { recursive: true });
    copyFileSync(shot, 'docs/screenshots/lab-rl.png');
  }

  // The session's checkpoint: a PEFT zip, and the run resumes after a reload, in RL mode.
  const version = (await page.locator('#rl-status').textContent())?.match(/policy version (\d+)/);
  const name = `step-${version?.[1]}`;
  const download = page.waitForEvent('download');
  await page.getByRole('button', { name: `Download ${name}`, exact: true }).click();
  const zip = unzipSync(new Uint8Array(readFileSync(await (await download).path())));
  expect(JSON.parse(strFromU8(zip['adapter_config.json']!))).toMatchObject({
    peft_type: 'LORA',
    r: 8,
  });
  await page.reload();
  await page.waitForSelector('body[data-ready="true"]', { timeout: 120_000 });
  await page.getByRole('button', { name: 'Resume last run' }).click();
  await expect(page.locator('#resume-banner')).toBeHidden({ timeout: 60_000 });
  await expect(page.locator('#rl-view')).toBeVisible();
  await expect(page.locator('#rl-chart')).toHaveAttribute('data-points', String(STEPS));

  // A code reward that never returns: stopped at its limit, the run pauses, the page answers.
  await settings(page, 2);
  await page.getByLabel('Write it in JavaScript').check();
  await page
    .getByLabel(/A function \(prompt, completion\)/)
    .fill('(prompt, completion) => {\n  while (true) {}\n}');
  const stepBefore = await page.locator('#stat-step').textContent();
  await page.getByRole('button', { name: 'Start RL' }).click();
  await expect(page.locator('body')).toHaveAttribute('data-rl-state', 'paused', {
    timeout: 180_000,
  });
  await expect(page.locator('#rl-status')).toContainText('ran past its 200 ms limit');
  await expect(page.locator('#rl-status')).toContainText('nothing trained');
  await responsive(page);
  await expect(page.locator('#stat-step')).toHaveText(stepBefore ?? '');

  // Fixed into one that throws: Resume retries the step with the new code, which pauses again.
  await page
    .getByLabel(/A function \(prompt, completion\)/)
    .fill(
      "(prompt, completion) => {\n  const words = completion.split(' ');\n  throw new Error('no reward for ' + words.length + ' words');\n}",
    );
  await page.getByRole('button', { name: 'Resume' }).click();
  await expect(page.locator('#rl-status')).toContainText(
    /threw on completion 1, line 3: Error: no reward for \d+ words/,
    { timeout: 120_000 },
  );
  await expect(page.locator('body')).toHaveAttribute('data-rl-state', 'paused');
  await expect(page.locator('#stat-step')).toHaveText(stepBefore ?? '');
  await page.getByRole('button', { name: 'Stop' }).click();
  await expect(page.locator('#rl-status')).toContainText(`Stopped at RL step ${STEPS}`, {
    timeout: 120_000,
  });
  await responsive(page);
});
