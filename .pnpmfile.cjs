// Shapes the manifest of every published package (`pnpm pack`, `pnpm publish`).
// In the workspace, exports carry a `source` condition that points at the
// TypeScript sources (tests and tools resolve through it); a published package
// ships built JavaScript only, so the condition and the sources stay behind.
function withoutSource(exportsField) {
  if (exportsField === null || typeof exportsField !== 'object') return exportsField;
  const result = {};
  for (const [key, value] of Object.entries(exportsField)) {
    if (key !== 'source') result[key] = withoutSource(value);
  }
  return result;
}

module.exports = {
  hooks: {
    beforePacking(pkg) {
      if (pkg.exports) pkg.exports = withoutSource(pkg.exports);
      if (Array.isArray(pkg.files)) pkg.files = pkg.files.filter((entry) => !/^!?src(\/|$)/.test(entry));
      return pkg;
    },
  },
};
