import { patternEnds } from './explain.js';
import { byteLabel } from './labels.js';
import { thousands } from './numbers.js';
import { formatTau } from './select.js';
import { TEXT_BYTES_MAX, TEXT_TOP_PATTERNS, type TextPosition, type TextSection } from './text.js';

/**
 * The one-run page's text in colour (text.ts gathers it): every byte a <span>
 * coloured by n at a τ or by its surprisal, chosen with radio buttons (CSS: each
 * span carries one colour per choice as a custom property), with a tooltip; a
 * click shows the position's explanation and underlines the earlier bytes by
 * their depth mass (a small inline script, which also keeps the tooltips at the
 * chosen τ). Nothing is fetched: the data are attributes of the page.
 */

const escapeHtml = (text: string): string =>
  text.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch] as string);

/** A light sequential palette (white to red): dark text stays readable on every colour. */
const PALETTE = [
  [255, 255, 255],
  [255, 255, 178],
  [254, 204, 92],
  [253, 141, 60],
  [240, 59, 32],
] as const;

/** The palette's colour at v in [0, 1], as #rrggbb. */
export function paletteColour(v: number): string {
  const x = Math.min(1, Math.max(0, Number.isFinite(v) ? v : 0)) * (PALETTE.length - 1);
  const k = Math.min(PALETTE.length - 2, Math.floor(x));
  const f = x - k;
  return `#${PALETTE[k].map((c, i) => Math.round(c + f * (PALETTE[k + 1][i] - c)).toString(16).padStart(2, '0')).join('')}`;
}

/** The colour scales: n on log(1 + n) up to the largest n shown at that τ; surprisal on log10 from 10⁻³ bits up to the largest (at least 1). */
const nScale = (largest: number) => (n: number): number => Math.log1p(n) / Math.log1p(Math.max(1, largest));
const SURPRISAL_FLOOR = 1e-3;
const surprisalScale = (largest: number) => (s: number): number =>
  (Math.log10(Math.max(s, SURPRISAL_FLOOR)) - Math.log10(SURPRISAL_FLOOR)) / (Math.log10(Math.max(1, largest)) - Math.log10(SURPRISAL_FLOOR));

/** How a byte shows in the text: printable ASCII as itself, a newline as ↵ (and a line break), a tab as →, others as ·. */
function shown(byte: number | null): string {
  if (byte === null) return '?';
  if (byte === 0x0a) return '↵\n';
  if (byte === 0x09) return '→';
  if (byte >= 0x20 && byte < 0x7f) return escapeHtml(String.fromCharCode(byte));
  return '·';
}

/** The tooltip's first part: t, the byte and its target. */
const about = (position: TextPosition, byte: number | null): string =>
  `t = ${position.t} · byte ${byte === null ? '?' : byteLabel(byte)} → target ${byteLabel(position.y)}`;

/** The tooltip at τ index k (the page's script writes the same for another τ). */
export function textTooltip(position: TextPosition, byte: number | null, tauLabel: string, k: number): string {
  const [nx, nh, ny] = position.counts[k] ?? [0, 0, 0];
  return `${about(position, byte)} · τ = ${tauLabel}: n_x ${nx}, n_h ${nh}, n_y ${ny} (n ${nx + nh + ny}) · surprisal ${position.surprisal.toPrecision(6)} bits`;
}

const CLASS_NAMES = { wx: 'Wx', wh: 'Wh', wy: 'Wy' } as const;
const PATTERN_COLUMNS = ['#', 'Class', 'Source', 'Target', 'Peak d', 'Attribution'];
const PATTERN_RIGHT = [true, false, false, false, true, true];

/** A listing of patterns as `explain` prints it, each row with the pattern's exact figures (data-pattern: class src dst d attribution). */
function patternTable(rows: readonly string[][], id: string, attributes: readonly string[]): string {
  const cell = (tag: 'th' | 'td', text: string, k: number): string => `<${tag}${PATTERN_RIGHT[k] ? ' class="num"' : ''}>${escapeHtml(text)}</${tag}>`;
  return `<table data-table="${id}"><thead><tr>${PATTERN_COLUMNS.map((c, k) => cell('th', c, k)).join('')}</tr></thead>
<tbody>${rows.map((row, r) => `<tr ${attributes[r]}>${row.map((c, k) => cell('td', c, k)).join('')}</tr>`).join('\n')}</tbody></table>`;
}

/** The page's script: tooltips at the chosen τ, and a click's explanation with the depth mass under the earlier bytes. */
const SCRIPT = `(function () {
  var view = document.querySelector('[data-text-view]');
  if (!view) return;
  var taus = JSON.parse(view.getAttribute('data-taus'));
  var spans = {};
  view.querySelectorAll('.text-bytes span[data-t]').forEach(function (span) { spans[span.getAttribute('data-t')] = span; });
  function tooltip(span, k) {
    var n = span.getAttribute('data-n').split(';')[k].split(' ').map(Number);
    return span.getAttribute('data-about') + ' \\u00b7 \\u03c4 = ' + taus[k] + ': n_x ' + n[0] + ', n_h ' + n[1] + ', n_y ' + n[2] + ' (n ' + (n[0] + n[1] + n[2]) + ') \\u00b7 surprisal ' + Number(span.getAttribute('data-s')).toPrecision(6) + ' bits';
  }
  view.addEventListener('change', function (event) {
    var k = event.target.getAttribute('data-tau-index');
    if (k === null) return;
    Object.keys(spans).forEach(function (t) { spans[t].title = tooltip(spans[t], Number(k)); });
  });
  var marked = [];
  view.querySelector('.text-bytes').addEventListener('click', function (event) {
    var span = event.target.closest('span[data-t]');
    if (!span) return;
    var t = Number(span.getAttribute('data-t'));
    marked.forEach(function (m) { m.style.boxShadow = ''; m.classList.remove('text-picked'); m.removeAttribute('data-depth'); });
    marked = [span];
    span.classList.add('text-picked');
    view.querySelectorAll('.text-explanation').forEach(function (panel) { panel.hidden = true; });
    var panel = view.querySelector('.text-explanation[data-explain-for="' + t + '"]');
    if (!panel) {
      panel = view.querySelector('.text-explanation[data-explain-for="none"]');
      panel.querySelectorAll('[data-slot]').forEach(function (slot) { slot.textContent = String(t); });
      panel.hidden = false;
      return;
    }
    panel.hidden = false;
    var mass = panel.getAttribute('data-mass').split(' ').map(Number);
    var top = Math.max.apply(null, [0].concat(mass.slice(1))) || 1;
    for (var d = 1; d < mass.length; d++) {
      var earlier = spans[String(t - d)];
      if (!earlier) continue;
      earlier.style.boxShadow = 'inset 0 -0.3em 0 rgba(31, 84, 180, ' + (0.15 + 0.85 * mass[d] / top).toFixed(3) + ')';
      earlier.setAttribute('data-depth', String(d));
      marked.push(earlier);
    }
  });
})();`;

/** The text section as HTML, with its style rules (for the page's <style>) and script. */
export function textSectionHtml(text: TextSection): string {
  const { taus, positions } = text;
  const labels = taus.map(formatTau);
  const byT = new Map(positions.map((position) => [position.t, position]));
  const nLargest = taus.map((_, k) => Math.max(0, ...positions.map((p) => (p.counts[k] ? p.counts[k][0] + p.counts[k][1] + p.counts[k][2] : 0))));
  const sLargest = Math.max(1, ...positions.map((p) => p.surprisal));
  const nColour = nLargest.map(nScale);
  const sColour = surprisalScale(sLargest);
  const explained = new Set(text.explanations.map((explanation) => explanation.t));
  const spans = text.bytes
    .map((byte, t) => {
      const position = byT.get(t);
      if (position === undefined) return `<span class="text-plain">${shown(byte)}</span>`;
      const colours = [...taus.map((_, k) => `--c${k}:${paletteColour(nColour[k](position.counts[k] ? position.counts[k][0] + position.counts[k][1] + position.counts[k][2] : 0))}`), `--cs:${paletteColour(sColour(position.surprisal))}`];
      return (
        `<span data-t="${t}"${explained.has(t) ? ' class="explained"' : ''} style="${colours.join(';')}" data-n="${position.counts.map((c) => c.join(' ')).join(';')}" ` +
        `data-s="${position.surprisal}" data-about="${escapeHtml(about(position, byte))}" title="${escapeHtml(textTooltip(position, byte, labels[text.colourTau], text.colourTau))}">${shown(byte)}</span>`
      );
    })
    .join('');
  const choices = [
    ...labels.map((label, k) => ({ id: String(k), text: `n at τ = ${label}`, tauIndex: k, legend: `n at τ = ${label}: 0 … ${thousands(nLargest[k])} active patterns (log scale)` })),
    { id: 's', text: 'surprisal', tauIndex: undefined, legend: `surprisal: ≤ 0.001 … ${sLargest.toPrecision(3)} bits (log scale)` },
  ];
  const inputs = choices
    .map((choice) => `<input type="radio" name="text-colour" id="text-colour-${choice.id}"${choice.tauIndex === text.colourTau ? ' checked' : ''}${choice.tauIndex === undefined ? '' : ` data-tau-index="${choice.tauIndex}"`}><label for="text-colour-${choice.id}">${escapeHtml(choice.text)}</label>`)
    .join('\n');
  const gradient = `linear-gradient(to right, ${[0, 0.25, 0.5, 0.75, 1].map(paletteColour).join(', ')})`;
  const legends = choices.map((choice) => `<div class="text-legend" data-legend="${choice.id}"><span class="text-ramp" style="background: ${gradient}"></span> ${escapeHtml(choice.legend)}</div>`).join('\n');
  const panels = text.explanations
    .map((explanation) => {
      const position = byT.get(explanation.t);
      const rows = explanation.patterns.map((p, k) => {
        const [source, target] = patternEnds(p);
        return [String(k + 1), CLASS_NAMES[p.class], source, target, String(p.d), p.attribution.toPrecision(6)];
      });
      const attributes = explanation.patterns.map((p) => `data-pattern="${p.class} ${p.src} ${p.dst} ${p.d} ${p.attribution}"`);
      const peak = explanation.depthMass.slice(1).reduce((best, mass, k) => (mass > explanation.depthMass[best] ? k + 1 : best), 1);
      return `<div class="text-explanation" data-explain-for="${explanation.t}" data-mass="${explanation.depthMass.join(' ')}" hidden>
<p><b>t = ${explanation.t}</b>: predicting ${escapeHtml(position ? byteLabel(position.y) : '?')}, surprisal ${position ? position.surprisal.toPrecision(4) : '-'} bits; <span data-active>${thousands(explanation.active)}</span> patterns active at τ = ${formatTau(text.explainTau)}${explanation.active > rows.length ? `, the first ${rows.length} listed (<code>sparsetrace explain --run ${text.run.run_id.slice(0, 12)} --t ${explanation.t}</code> lists all)` : ''}.</p>
${patternTable(rows, `text-explain-${explanation.t}`, attributes)}
<p>Depth mass: ${explanation.depthMass[0].toPrecision(4)} at d = 0 (the output layer)${explanation.depthMass.length > 1 ? `; the earlier bytes x<sub>t−d</sub> are underlined by their mass at d = 1 … ${explanation.depthMass.length - 1} (largest at d = ${peak}: ${explanation.depthMass[peak].toPrecision(4)})` : ''}.</p>
</div>`;
    })
    .join('\n');
  const shownPositions = positions.length;
  const cut = text.run.data_length > text.bytes.length ? `<p class="note" data-note>The window has ${thousands(text.run.data_length)} bytes; the page shows the first ${thousands(text.bytes.length)} (at most ${thousands(TEXT_BYTES_MAX)} positions; <code>sparsetrace export</code> lists every position).</p>` : '';
  return `<h2>The Text in Colour</h2>
<p>Each byte x<sub>t</sub> of the window, coloured by its position's active patterns n at a τ (the prediction of x<sub>t+1</sub> made after reading it), or by that prediction's surprisal. Hover a byte for its figures; click one for its explanation (the ${thousands(text.explanations.length)} underlined dotted positions: those of at least 1 bit of surprisal, then the most active at τ = ${labels[text.colourTau]}; the first ${TEXT_TOP_PATTERNS} patterns at τ = ${formatTau(text.explainTau)} and the depth mass over the earlier bytes).</p>
${cut}
${text.notes.map((line) => `<p class="note" data-note>${escapeHtml(line)}</p>`).join('\n')}
<div class="text-view" data-text-view data-positions="${shownPositions}" data-taus="${escapeHtml(JSON.stringify(labels))}">
${inputs}
<div class="text-legends">
${legends}
</div>
<div class="text-bytes" data-text>${spans}</div>
<div class="text-explanations">
<p class="text-explanation" data-explain-for="pick">Click a byte to see its explanation.</p>
<div class="text-explanation" data-explain-for="none" hidden><p>Position t = <span data-slot></span> is not one of those explained on this page: <code>sparsetrace explain --run ${text.run.run_id.slice(0, 12)} --t <span data-slot></span></code> lists its patterns.</p></div>
${panels}
</div>
</div>
<script>${SCRIPT}</script>`;
}

/** Style rules of the text section: the colour chosen by the checked radio button, one rule per choice. */
export function textStyle(text: TextSection): string {
  const ids = [...text.taus.map((_, k) => String(k)), 's'];
  return `
.text-view > input { margin-left: 8px; } .text-view > label { font-size: 13px; margin-right: 6px; cursor: pointer; }
.text-legend { display: none; font-size: 13px; color: #444; margin: 8px 0; } .text-ramp { display: inline-block; width: 160px; height: 10px; border: 1px solid #ccc; vertical-align: middle; }
.text-bytes { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; font-size: 14px; line-height: 1.7; white-space: pre-wrap; overflow-wrap: anywhere; border: 1px solid #e3e3e3; padding: 10px 12px; background: #fff; }
.text-bytes span[data-t] { cursor: pointer; } .text-bytes span.explained { text-decoration: underline dotted #555; } .text-bytes span.text-picked { outline: 2px solid #222; }
.text-explanations { margin-top: 12px; font-size: 14px; }
${ids.map((id) => `#text-colour-${id}:checked ~ .text-bytes span[data-t] { background: var(--c${id}); }\n#text-colour-${id}:checked ~ .text-legends [data-legend="${id}"] { display: block; }`).join('\n')}
`;
}
