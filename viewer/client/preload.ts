/**
 * The viewer's preload script: a few lines loaded beside the main bundle
 * and run before it, so a trace page's API request overlaps the download and
 * start of the main bundle (Mermaid is most of it) instead of following them.
 */
import { prefetchTracePage } from './api.js';

prefetchTracePage();
