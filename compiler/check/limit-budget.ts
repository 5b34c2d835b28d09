// A limit's budget: money or tokens (exactly one), a time zone the runtime can count calendar
// periods in, and for money, a price in the budget's currency on every model the limit covers
// (a model without one would spend without being counted, so that is an error, not a warning).
import type { LimitBudget } from '../../schemas/types.generated.ts';
import type { Catalog } from './providers.ts';
import type { Report } from './rules.ts';

// IANA names only (Area/Location, or UTC): Intl also takes offsets like "+01:00" on some Node
// versions, and the runtime that counts the period may run another one.
const IANA_SHAPE = /^(?:UTC|[A-Za-z][A-Za-z0-9_+-]*(?:\/[A-Za-z0-9_+-]+){1,2})$/;

/** True when `zone` is an IANA time zone this Node knows. */
export function isTimeZone(zone: string): boolean {
  if (!IANA_SHAPE.test(zone)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/** Reports what is wrong with a budget; `models` are the enabled FQNs the limit covers. */
export function checkBudget(budget: LimitBudget, models: readonly string[], catalog: Catalog, report: Report): void {
  const path = ['budget'];
  if (budget.time_zone !== undefined && !isTimeZone(budget.time_zone)) {
    report(
      'MG_LIMIT_BAD_TIME_ZONE',
      [...path, 'time_zone'],
      `"${budget.time_zone}" is not an IANA time zone`,
      'use a name like UTC, Europe/Berlin or America/New_York',
    );
  }
  const money = budget.amount !== undefined || budget.currency !== undefined;
  if (money === (budget.tokens !== undefined)) {
    report(
      'MG_LIMIT_BUDGET_INVALID',
      path,
      money ? 'a budget is either money (amount, currency) or tokens, not both' : 'a budget needs amount and currency, or tokens',
      'like {amount: 2000, currency: USD, period: month} or {tokens: 5000000, period: day}',
    );
    return;
  }
  if (!money) return;
  if (budget.amount === undefined || budget.currency === undefined) {
    report(
      'MG_LIMIT_BUDGET_INVALID',
      path,
      `a money budget needs both amount and currency (${budget.amount === undefined ? 'amount' : 'currency'} is missing)`,
      'like {amount: 2000, currency: USD, period: month}',
    );
    return;
  }
  const unpriced: string[] = [];
  const otherCurrency: string[] = [];
  for (const fqn of models) {
    const pricing = catalog.models.get(fqn)?.pricing;
    if (pricing === undefined) unpriced.push(fqn);
    else if (pricing.currency !== budget.currency) otherCurrency.push(`${fqn} (${pricing.currency})`);
  }
  if (unpriced.length > 0) {
    report(
      'MG_LIMIT_BUDGET_NO_PRICING',
      path,
      `a budget in ${budget.currency} needs a price for every model it covers; ${list(unpriced)} ${unpriced.length === 1 ? 'has' : 'have'} none`,
      'add pricing: {input_per_1m, output_per_1m, currency} to the model in its provider file, or use a budget in tokens',
    );
  }
  if (otherCurrency.length > 0) {
    report(
      'MG_LIMIT_BUDGET_CURRENCY',
      path,
      `a budget in ${budget.currency} covers models priced in another currency: ${list(otherCurrency)}`,
      'a budget counts one currency: split the limit by currency, or use a budget in tokens',
    );
  }
}

// A glob can cover hundreds of models: name a few.
function list(items: readonly string[]): string {
  const shown = items.slice(0, 5).join(', ');
  return items.length > 5 ? `${shown} and ${items.length - 5} more` : shown;
}
