/**
 * The fault rules in force (GET /api/v1/faults): each rule with how many events it matched and how many faults it
 * injected, an editor for the whole document as JSON (PUT replaces it; the server's 400 names the field that is
 * wrong and the rules in force stay), and Clear (DELETE).
 */
import type { JSX } from 'preact';
import { useCallback, useEffect, useState } from 'preact/hooks';
import { describeFaultRule } from '../../../faults/describe.js'; // the same words as the start-up banner
import { api, errorText, type FaultView } from './api.js';

type Props = {
  /** Bumped on every session-ended event: the counters may have moved. */
  refreshSeq: number;
  onError(message: string): void;
};

const EXAMPLE = {
  seed: 42,
  rules: [
    { on: 'rcpt', to: '*@bounce.test', reply: '550 5.1.1 No such user here' },
    { on: 'mail', every: 3, reply: '451 4.3.0 Try again later' },
  ],
};

/** The document as it was given, without the counters GET adds. */
function documentOf(view: FaultView): { seed: number; rules: Record<string, unknown>[] } {
  return { seed: view.seed, rules: view.rules.map(({ matched: _m, fired: _f, ...rule }) => rule) };
}

export function FaultsView({ refreshSeq, onError }: Props): JSX.Element {
  const [view, setView] = useState<FaultView | null>(null);
  const [text, setText] = useState('');
  const [editing, setEditing] = useState(false);
  const [problem, setProblem] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const load = useCallback(async (signal?: AbortSignal) => {
    try {
      setView(await api.getFaults(signal));
    } catch (e) {
      if (!signal?.aborted) onError(`Could not load the fault rules: ${errorText(e)}`);
    }
  }, [onError]);

  useEffect(() => {
    const ac = new AbortController();
    void load(ac.signal);
    return () => ac.abort();
  }, [refreshSeq]);

  const edit = (): void => {
    setText(JSON.stringify(view && view.rules.length > 0 ? documentOf(view) : EXAMPLE, null, 2));
    setProblem(null);
    setEditing(true);
  };

  const apply = async (): Promise<void> => {
    let doc: unknown;
    try {
      doc = JSON.parse(text);
    } catch (e) {
      setProblem(`Not JSON: ${errorText(e)}`);
      return;
    }
    setBusy(true);
    try {
      setView(await api.putFaults(doc));
      setProblem(null);
      setEditing(false);
    } catch (e) {
      setProblem(errorText(e));
    } finally {
      setBusy(false);
    }
  };

  const clear = async (): Promise<void> => {
    setBusy(true);
    try {
      setView(await api.clearFaults());
      setEditing(false);
    } catch (e) {
      onError(`Could not clear the fault rules: ${errorText(e)}`);
    } finally {
      setBusy(false);
    }
  };

  const rules = view?.rules ?? [];
  return (
    <section class="faults" aria-label="Fault injection">
      <div class="list-toolbar">
        <span class="muted">
          {view === null ? 'Loading…' : rules.length === 0 ? 'No fault rules: every session is served normally.' : `${rules.length} rule${rules.length === 1 ? '' : 's'}, seed ${view.seed}`}
        </span>
        <div class="spacer" />
        <button class="btn small" onClick={() => void load()} disabled={busy}>Refresh</button>
        <button class="btn small" onClick={edit} disabled={busy || editing}>Edit as JSON</button>
        <button class="btn small danger" onClick={() => void clear()} disabled={busy || rules.length === 0}>Clear</button>
      </div>
      {rules.length > 0 && (
        <table class="fault-rules">
          <thead><tr><th>#</th><th>rule</th><th>matched</th><th>fired</th></tr></thead>
          <tbody>
            {rules.map((r, i) => (
              <tr key={i} data-rule={i + 1}>
                <td>{i + 1}</td>
                <td class="words">{describeFaultRule(r)}</td>
                <td class="num matched">{r.matched}</td>
                <td class="num fired">{r.fired}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {editing && (
        <div class="fault-editor">
          <textarea aria-label="Fault document (JSON)" spellcheck={false} rows={16} value={text}
            onInput={(e) => setText((e.currentTarget as HTMLTextAreaElement).value)} />
          {problem && <div class="fault-problem" role="alert">{problem}</div>}
          <div class="fault-actions">
            <button class="btn primary small" onClick={() => void apply()} disabled={busy}>Apply</button>
            <button class="btn ghost small" onClick={() => setEditing(false)} disabled={busy}>Cancel</button>
          </div>
        </div>
      )}
    </section>
  );
}
