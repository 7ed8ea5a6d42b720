/** The inboxes beside the message list: every envelope recipient with its counts; choosing one scopes the list. */
import type { Inbox } from './api.js';
import { quoteTerm } from '../../../store/search-term.js';

/** The search term for one inbox, quoted as the search language wants. */
export const inboxTerm = (address: string): string => `inbox:${quoteTerm(address)}`;

export function InboxList(props: { inboxes: readonly Inbox[]; scope: string | null; onScope: (address: string | null) => void }) {
  const { inboxes, scope, onScope } = props;
  return (
    <nav class="inbox-pane" aria-label="Inboxes">
      {/* What the two numbers beside each inbox are (issue 32 item 8). */}
      <div class="inbox-head" aria-hidden="true"><span>Inboxes</span><span class="legend"><b class="unread">unread</b> total</span></div>
      <button type="button" class={`inbox${scope === null ? ' active' : ''}`} aria-pressed={scope === null} onClick={() => onScope(null)}>
        <span class="addr">All mail</span>
      </button>
      {inboxes.map((i) => (
        <button type="button" key={i.address} class={`inbox${scope === i.address ? ' active' : ''}`} aria-pressed={scope === i.address}
          title={i.address} data-address={i.address} onClick={() => onScope(i.address)}>
          <span class="addr">{i.address}</span>
          <span class="counts" aria-label={`${i.unread} unread, ${i.total} in total`}>
            {i.unread > 0 && <b class="unread" title={`${i.unread} unread`}>{i.unread}</b>}<span class="total" title={`${i.total} message${i.total === 1 ? '' : 's'} in total`}>{i.total}</span>
          </span>
        </button>
      ))}
    </nav>
  );
}
