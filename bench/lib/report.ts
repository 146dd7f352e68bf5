/**
 * The report model shared by every figure, and its two renderings:
 * BENCHMARKS.md for people and bench/results.json for tools. Pure functions,
 * so the harness test can render a report from made-up numbers.
 */

/** A goal a measured value is held to. */
export interface Goal {
  /** Which number the goal applies to: the value, value ÷ baseline, or value − baseline. */
  on: 'value' | 'ratio' | 'difference';
  op: '<' | '<=' | '>' | '>=';
  target: number;
  /** How the goal reads in the table, e.g. "≥ 0.93 of bare". */
  text: string;
}

/** A number measured in a reference configuration during the same run. */
export interface Baseline {
  name: string;
  value: number;
  unit: string;
}

/** One measured figure: one row of a table and one key of results.json. */
export interface Measurement {
  /** Key in results.json, unique across the run, e.g. `overhead.db.lifeline.rps`. */
  key: string;
  name: string;
  value: number;
  unit: string;
  baseline?: Baseline;
  goal?: Goal;
}

/** One numbered section of the report. */
export interface FigureReport {
  id: number;
  title: string;
  /** What was measured and how, in a sentence or two. */
  method: string;
  rows: Measurement[];
  /** Explanations, e.g. why a goal was missed and what would move it. */
  notes: string[];
  /** Set when the figure could not be measured at all in this run, with the reason. */
  failure?: string;
}

/** The machine a run was measured on. */
export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGb: number;
  nodeVersion: string;
  platform: string;
}

/** Everything a report is rendered from. */
export interface RunReport {
  machine: MachineInfo;
  /** ISO 8601 time the run started. */
  startedAt: string;
  durationS: number;
  quick: boolean;
  figures: FigureReport[];
  /** The report this run replaces (bench/results.json before the run), to say what changed since. */
  previous?: ResultsJson;
  /** Why a figure moved, by result key (see bench/change-notes.ts). */
  changeNotes?: Readonly<Record<string, string>>;
}

/** A goal figure that moved since the previous report by at least {@link CHANGE_THRESHOLD}. */
export interface FigureChange {
  key: string;
  figure: number;
  name: string;
  /** What the goal is judged on, before and now (the value, ratio or difference). */
  before: number;
  now: number;
  unit: string;
  /** Whether the move is towards the goal (lower for a `<` goal, higher for a `>` goal). */
  better: boolean;
  /** For a goal judged against a baseline: the value and the baseline of both runs, to tell which of the two moved. */
  parts?: { valueBefore: number; valueNow: number; baselineBefore: number; baselineNow: number; unit: string };
  metBefore: boolean | undefined;
  metNow: boolean | undefined;
}

/** A relative move smaller than this (10 %) is within the run-to-run noise of a shared 2-core machine. */
export const CHANGE_THRESHOLD = 0.1;

function judged(row: { value: number; unit: string; ratio?: number; difference?: number }, on: Goal['on'] | undefined) {
  if (on === 'ratio' && row.ratio !== undefined) return { value: row.ratio, unit: '×' };
  if (on === 'difference' && row.difference !== undefined) return { value: row.difference, unit: row.unit };
  return { value: row.value, unit: row.unit };
}

/** The relative move from `before` to `now` (0.1 for 10 %); a move away from 0 counts as whole. */
function relativeMove(before: number, now: number): number {
  if (before === 0) return now === 0 ? 0 : 1;
  return (now - before) / Math.abs(before);
}

/**
 * The goal figures that moved by at least 10 % since `previous`, or whose
 * verdict flipped, judged on what the goal reads (value, ratio or difference).
 * Figures missing from either run are left out.
 */
export function figureChanges(report: RunReport, previous: ResultsJson): FigureChange[] {
  const changes: FigureChange[] = [];
  for (const figure of report.figures) {
    for (const row of figure.rows.filter((r) => r.goal)) {
      const old = previous.figures[row.key];
      if (old === undefined || row.goal === undefined) continue;
      const ratio = ratioOf(row);
      const difference = differenceOf(row);
      const now = judged(
        {
          value: row.value,
          unit: row.unit,
          ...(ratio === undefined ? {} : { ratio }),
          ...(difference === undefined ? {} : { difference }),
        },
        row.goal.on,
      );
      const before = judged(old, row.goal.on);
      const metNow = goalMet(row);
      const moved = Math.abs(relativeMove(before.value, now.value)) >= CHANGE_THRESHOLD;
      if (!moved && metNow === old.met) continue;
      const lowerIsBetter = row.goal.op === '<' || row.goal.op === '<=';
      const change: FigureChange = {
        key: row.key,
        figure: figure.id,
        name: row.name,
        before: before.value,
        now: now.value,
        unit: now.unit,
        better: lowerIsBetter ? now.value < before.value : now.value > before.value,
        metBefore: old.met,
        metNow,
      };
      if (row.goal.on !== 'value' && row.baseline !== undefined && old.baseline !== undefined) {
        change.parts = {
          valueBefore: old.value,
          valueNow: row.value,
          baselineBefore: old.baseline.value,
          baselineNow: row.baseline.value,
          unit: row.unit,
        };
      }
      changes.push(change);
    }
  }
  return changes;
}

/**
 * What changed a figure: for a ratio whose own value stayed within 10 %
 * while its baseline moved, the baseline; otherwise the prepared note
 * (flagged when the figure moved away from its goal), or noise.
 */
function changeReason(change: FigureChange, note: string | undefined): string {
  const parts = change.parts;
  if (parts !== undefined) {
    const own = relativeMove(parts.valueBefore, parts.valueNow);
    const base = relativeMove(parts.baselineBefore, parts.baselineNow);
    if (Math.abs(own) < CHANGE_THRESHOLD && Math.abs(base) >= CHANGE_THRESHOLD) {
      return `Lifeline's own figure moved ${percent(own)}, its baseline ${percent(base)}: the comparison moved with the baseline, the noise of this shared machine.`;
    }
  }
  if (note === undefined) return 'no change to the code it measures (noise)';
  return change.better
    ? note
    : `Moved away from its goal although this change aimed the other way (noise, or a cost the profiles missed): ${note}`;
}

function percent(move: number): string {
  return `${move >= 0 ? '+' : '−'}${Math.round(Math.abs(move) * 100)} %`;
}

function renderChanges(report: RunReport, previous: ResultsJson): string[] {
  const changes = figureChanges(report, previous);
  const lines = [`## Changes since the previous report (${previous.startedAt.slice(0, 10)})`, ''];
  if (changes.length === 0) {
    lines.push('No goal figure moved by 10 % or more, and no verdict changed.', '');
    return lines;
  }
  lines.push(
    'Goal figures that moved by 10 % or more, or whose verdict changed, with what changed them. ' +
      "A comparison with a baseline shows Lifeline's own value and the baseline's in brackets, so that a move of the " +
      'baseline reads as one. A figure without a note moved with no change to the code it measures: that is the noise ' +
      'of this shared machine.',
    '',
    '| # | figure | before | now | met before → now | what changed it |',
    '| --- | --- | --- | --- | --- | --- |',
  );
  const verdict = (met: boolean | undefined) => (met === undefined ? '–' : met ? 'yes' : 'no');
  for (const change of changes) {
    const p = change.parts;
    const before = `${withUnit(change.before, change.unit)}${p ? ` (${withUnit(p.valueBefore, p.unit)} vs ${withUnit(p.baselineBefore, p.unit)})` : ''}`;
    const now = `${withUnit(change.now, change.unit)}${p ? ` (${withUnit(p.valueNow, p.unit)} vs ${withUnit(p.baselineNow, p.unit)})` : ''}`;
    const reason = changeReason(change, report.changeNotes?.[change.key]);
    lines.push(
      `| ${change.figure} | ${cell(change.name)} | ${before} | ${now} | ${verdict(change.metBefore)} → ${verdict(change.metNow)} | ${cell(reason)} |`,
    );
  }
  lines.push('');
  return lines;
}

/** value ÷ baseline, or undefined when there is no baseline to divide by. */
export function ratioOf(row: Measurement): number | undefined {
  if (!row.baseline || row.baseline.value === 0) return undefined;
  return row.value / row.baseline.value;
}

/** value − baseline, or undefined when there is no baseline. */
export function differenceOf(row: Measurement): number | undefined {
  return row.baseline ? row.value - row.baseline.value : undefined;
}

/** Whether a row meets its goal; undefined for rows without a goal. */
export function goalMet(row: Measurement): boolean | undefined {
  const goal = row.goal;
  if (!goal) return undefined;
  const subject = goal.on === 'ratio' ? ratioOf(row) : goal.on === 'difference' ? differenceOf(row) : row.value;
  if (subject === undefined || !Number.isFinite(subject)) return false;
  switch (goal.op) {
    case '<':
      return subject < goal.target;
    case '<=':
      return subject <= goal.target;
    case '>':
      return subject > goal.target;
    case '>=':
      return subject >= goal.target;
  }
}

/**
 * A number as people read it in a table: whole and thousands-separated from
 * 100 up, two decimals below that, three significant digits below 1.
 */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  if (abs >= 100) return Math.round(value).toLocaleString('en-US');
  if (abs >= 1) return value.toFixed(2);
  if (abs === 0) return '0';
  return value.toPrecision(3);
}

function withUnit(value: number, unit: string): string {
  if (unit === '×') return `${formatNumber(value)}×`;
  return unit ? `${formatNumber(value)} ${unit}` : formatNumber(value);
}

/** The "vs baseline" cell: the difference for rows judged on it, else the ratio. */
function comparison(row: Measurement): string {
  if (row.goal?.on === 'difference') {
    const d = differenceOf(row);
    if (d !== undefined) return `${d >= 0 ? '+' : '−'}${withUnit(Math.abs(d), row.unit)}`;
  }
  const ratio = ratioOf(row);
  return ratio === undefined ? '–' : `${formatNumber(ratio)}×`;
}

function cell(text: string): string {
  return text.replaceAll('|', '\\|').replaceAll('\n', ' ');
}

function machineLine(report: RunReport): string {
  const m = report.machine;
  return `${m.cpuModel}, ${m.cores} cores, ${m.memoryGb} GB, Node ${m.nodeVersion} (${m.platform}), ${report.startedAt.slice(0, 10)}`;
}

/** Renders BENCHMARKS.md. */
export function renderMarkdown(report: RunReport): string {
  const lines: string[] = [];
  const rows = report.figures.flatMap((f) => f.rows);
  const withGoal = rows.filter((r) => r.goal);
  const met = withGoal.filter((r) => goalMet(r)).length;
  lines.push('# Lifeline benchmarks', '');
  lines.push(
    "Lifeline runs inside other people's apps, so what it costs is measured, not guessed. " +
      'Every number below comes from one run of `npm run bench`' +
      (report.quick ? ' with `--quick` (shorter rounds, smaller store: indicative only)' : '') +
      ', with its baseline measured in the same run. Configurations are measured in interleaved rounds ' +
      '(A B A B …) and each figure is the median of the rounds.',
    '',
  );
  lines.push(`- Machine: ${machineLine(report)}`);
  lines.push(`- Started: ${report.startedAt}, took ${Math.round(report.durationS)} s`);
  lines.push(`- Goals met: ${met} of ${withGoal.length}`);
  lines.push('');
  lines.push('| # | figure | value | goal | met |', '| --- | --- | --- | --- | --- |');
  for (const figure of report.figures) {
    if (figure.failure)
      lines.push(`| ${figure.id} | ${cell(figure.title)} | not measured: ${cell(figure.failure)} | | **no** |`);
    for (const row of figure.rows.filter((r) => r.goal)) {
      const shown = row.goal?.on === 'value' ? withUnit(row.value, row.unit) : comparison(row);
      lines.push(
        `| ${figure.id} | ${cell(row.name)} | ${shown} | ${cell(row.goal?.text ?? '')} | ${goalMet(row) ? 'yes' : '**no**'} |`,
      );
    }
  }
  lines.push('');
  if (report.previous !== undefined) lines.push(...renderChanges(report, report.previous));
  for (const figure of report.figures) {
    lines.push(`## ${figure.id}. ${figure.title}`, '', figure.method, '');
    if (figure.failure) {
      lines.push(`**Not measured in this run:** ${figure.failure}`, '');
    }
    if (figure.rows.length > 0) {
      lines.push('| figure | value | baseline | vs baseline | goal | met |', '| --- | --- | --- | --- | --- | --- |');
      for (const row of figure.rows) {
        const met = goalMet(row);
        lines.push(
          [
            '',
            cell(row.name),
            withUnit(row.value, row.unit),
            row.baseline ? cell(`${withUnit(row.baseline.value, row.baseline.unit)} (${row.baseline.name})`) : '–',
            comparison(row),
            row.goal ? cell(row.goal.text) : '–',
            met === undefined ? '–' : met ? 'yes' : '**no**',
            '',
          ]
            .join(' | ')
            .trim(),
        );
      }
      lines.push('');
    }
    lines.push(`Measured on ${machineLine(report)}.`, '');
    for (const note of figure.notes) lines.push(`> ${note.replaceAll('\n', '\n> ')}`, '');
  }
  return `${lines.join('\n').trimEnd()}\n`;
}

/** One key of results.json. */
export interface ResultEntry {
  figure: number;
  name: string;
  value: number;
  unit: string;
  baseline?: Baseline;
  ratio?: number;
  difference?: number;
  goal?: string;
  met?: boolean;
}

/** The shape of bench/results.json. */
export interface ResultsJson {
  startedAt: string;
  durationS: number;
  quick: boolean;
  machine: MachineInfo;
  /** Figures that could not be measured, by figure number, with the reason. */
  failures: Record<string, string>;
  figures: Record<string, ResultEntry>;
}

/** Builds bench/results.json: the same figures as the Markdown, one key per figure. */
export function toResultsJson(report: RunReport): ResultsJson {
  const figures: Record<string, ResultEntry> = {};
  const failures: Record<string, string> = {};
  for (const figure of report.figures) {
    if (figure.failure) failures[String(figure.id)] = figure.failure;
    for (const row of figure.rows) {
      if (figures[row.key]) throw new Error(`duplicate result key ${row.key}`);
      const entry: ResultEntry = { figure: figure.id, name: row.name, value: row.value, unit: row.unit };
      const ratio = ratioOf(row);
      if (row.baseline) entry.baseline = row.baseline;
      if (ratio !== undefined) entry.ratio = ratio;
      const difference = differenceOf(row);
      if (difference !== undefined) entry.difference = difference;
      if (row.goal) {
        entry.goal = row.goal.text;
        entry.met = goalMet(row) ?? false;
      }
      figures[row.key] = entry;
    }
  }
  return {
    startedAt: report.startedAt,
    durationS: report.durationS,
    quick: report.quick,
    machine: report.machine,
    failures,
    figures,
  };
}
