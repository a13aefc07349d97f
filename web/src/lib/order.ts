// Ordered groups (conversion and webhook groups): lower position first, equal positions by id.

export interface Positioned {
  id: number;
  position: number;
}

export function sortByPosition<T extends Positioned>(list: T[]): T[] {
  return [...list].sort((a, b) => a.position - b.position || a.id - b.id);
}

/**
 * The position changes that move item `index` of the sorted list one step up (-1) or down (+1):
 * the groups get positions 0, 1, 2... in the new order; only those that change are returned.
 */
export function moveChanges<T extends Positioned>(sorted: T[], index: number, dir: -1 | 1): { id: number; position: number }[] {
  const j = index + dir;
  if (index < 0 || index >= sorted.length || j < 0 || j >= sorted.length) return [];
  const order = [...sorted];
  [order[index], order[j]] = [order[j], order[index]];
  return order.flatMap((g, position) => (g.position === position ? [] : [{ id: g.id, position }]));
}
