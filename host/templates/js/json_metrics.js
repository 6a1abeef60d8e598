/** Turning a JSON document into metrics: plain JavaScript, tested natively (`npm test`). */

/**
 * The numbers in `document` as `[path, value]` pairs, the path being the keys (and array
 * positions) leading to them joined by `.`, in lower case with anything but letters, digits
 * and `_` turned into `_`. Booleans count as 1 and 0. With `include`, only those paths.
 */
export function numericLeaves(document, include = null) {
  const leaves = [];
  const walk = (value, path) => {
    if (typeof value === 'number' && Number.isFinite(value)) {
      leaves.push([path.join('.'), value]);
    } else if (typeof value === 'boolean') {
      leaves.push([path.join('.'), value ? 1 : 0]);
    } else if (value !== null && typeof value === 'object') {
      for (const [key, child] of Object.entries(value)) {
        walk(child, [...path, segment(key)]);
      }
    }
  };
  walk(document, []);
  const wanted = include && new Set(include);
  return leaves.filter(([path]) => path !== '' && (!wanted || wanted.has(path)));
}

function segment(key) {
  return String(key).toLowerCase().replace(/[^a-z0-9_]+/g, '_');
}
