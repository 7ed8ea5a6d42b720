/** The inboxes beside the message list: every envelope recipient with its counts; choosing one scopes the list. */
import type { Inbox } from './api.js';
import { quoteTerm } from '../../../store/search-term.js';

/** The search term for one inbox, quoted as the search language wants. */
export const inboxTerm = (address: string): string => `inbox:${quoteTerm(address)}`;

export function InboxList(props: { inboxes: readonly Inbox[]; scope: string | null; onScope: (address: string | null) => void }) {
  const { inboxes, scope, onScope } = props;
  return (
    <nav class="inbox-pane" aria-label="Inboxes">
      <button type="button" class={`inbox${scope === null ? ' active' : ''}`} aria-pressed={scope === null} onClick={() => onScope(null)}>
        <span class="addr">All mail</span>
      </button>
      {inboxes.map((i) => (
        <button type="button" key={i.address} class={`inbox${scope === i.address ? ' active' : ''}`} aria-pressed={scope === i.address}
          title={i.address} data-address={i.address} onClick={() => onScope(i.address)}>
          <span class="addr">{i.address}</span>
          <span class="counts">{i.unread > 0 && <b class="unread" title={`${i.unread} unread`}>{i.unread}</b>}<span class="total">{i.total}</span></span>
        </button>
      ))}
    </nav>
  );
}
