/**
 * The benchmark's bare Mermaid page (figure 7): the Mermaid the viewer
 * bundles, with the viewer's settings, drawing the text the page was given
 * (`globalThis.diagramText`) straight into the page. It marks
 * `lifeline:diagram-drawn` once the SVG is laid out, as the viewer's trace
 * page does, so the two are timed alike from navigation on.
 */
import mermaid from 'mermaid';
import { mermaidConfig } from '../../viewer/client/diagram.js';

const text = (globalThis as unknown as { diagramText: string }).diagramText;
mermaid.initialize(mermaidConfig(false));
const { svg } = await mermaid.render('diagram', text);
const out = document.getElementById('out') as HTMLElement;
out.innerHTML = svg;
// Reading a layout property forces style and layout: the SVG is ready to show, not just a string.
out.getBoundingClientRect();
out.dataset.renderedMessages = String(out.querySelectorAll('.messageText').length);
performance.mark('lifeline:diagram-drawn');
