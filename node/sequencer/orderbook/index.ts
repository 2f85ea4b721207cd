/**
 * perpnode sequencer order book: deterministic in-memory price-time matching, persisted by the
 * node through takeDirty()/restore(). See docs/matching.md.
 */
export { Matcher, isMarketKind, isTriggered, reducible, triggerDirection } from './matcher.ts';
export { recordFromJson, recordToJson, type OrderRecordJson } from './json.ts';
export {
  isOpenStatus,
  OPEN_STATUSES,
  REASONS,
  type Fill,
  type MarketSpec,
  type MatchContext,
  type MatcherOptions,
  type OrderRecord,
  type OrderStatus,
  type StpMode,
} from './types.ts';
