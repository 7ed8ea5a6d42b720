/**
 * Flags from the environment, for containers: every option of a command can also be given as `MAILWIRE_<FLAG>`
 * (`--max-message-size` ↔ MAILWIRE_MAX_MESSAGE_SIZE, `--no-http` ↔ MAILWIRE_HTTP=false), a flag on the command line
 * winning. It works over the command's own option list when the command runs, so an option added anywhere gets it.
 *
 * Commander's own `Option.env()` is not used: it turns a boolean on whenever its variable is set (MAILWIRE_QUIET=false
 * would mean quiet) and hands a repeatable flag the whole list as one value.
 */
import { Help, InvalidArgumentError, type Command, type Option } from 'commander';

export const ENV_PREFIX = 'MAILWIRE_';

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** MAILWIRE_MAX_MESSAGE_SIZE for --max-message-size, MAILWIRE_HTTP for --no-http; null for an option without a long name. */
export function envNameOf(option: Option): string | null {
  if (option.long === undefined) return null;
  const long = option.long.replace(/^--/, '');
  const flag = option.negate ? long.replace(/^no-/, '') : long;
  return ENV_PREFIX + flag.toUpperCase().replace(/-/g, '_');
}

/** A repeatable flag (collects into a list) takes a comma-separated list from its variable. */
const isRepeatable = (option: Option): boolean => option.variadic || Array.isArray(option.defaultValue);

/** An environment value that is no good; the message names the variable and the flag. */
export class EnvironmentValueError extends Error {
  override name = 'EnvironmentValueError' as const;
  readonly variable: string;
  constructor(variable: string, option: Option, value: string, why: string) {
    super(`environment variable ${variable}=${JSON.stringify(value)} (for ${option.long ?? option.flags}) is invalid: ${why}`);
    this.variable = variable;
  }
}

function valueOf(option: Option, name: string, text: string, previous: unknown): unknown {
  const fail = (why: string): never => {
    throw new EnvironmentValueError(name, option, text, why);
  };
  if (!option.required && !option.optional) { // a switch: --x, or --no-x
    const word = text.trim().toLowerCase();
    if (TRUE.has(word)) return true;
    if (FALSE.has(word)) return false;
    return fail('expected true or false (or 1/0, yes/no, on/off).');
  }
  const parse = (part: string, acc: unknown): unknown => {
    if (option.parseArg === undefined) return option.variadic && Array.isArray(acc) ? [...(acc as unknown[]), part] : part;
    try {
      return option.parseArg(part, acc);
    } catch (error) {
      if (error instanceof InvalidArgumentError) return fail(error.message);
      throw error;
    }
  };
  if (!isRepeatable(option)) return parse(text, previous);
  let acc: unknown = Array.isArray(option.defaultValue) ? option.defaultValue : [];
  for (const part of text.split(',').map((p) => p.trim()).filter((p) => p !== '')) acc = parse(part, acc);
  return acc;
}

/**
 * Sets each option not given on the command line from its variable. An empty variable counts as unset. Throws
 * EnvironmentValueError for a value the flag would refuse.
 */
export function applyEnvironment(command: Command, env: Readonly<Record<string, string | undefined>>): void {
  const done = new Set<string>();
  for (const option of command.options as readonly Option[]) {
    const name = envNameOf(option);
    const key = option.attributeName();
    if (name === null || done.has(key)) continue;
    done.add(key); // --x and --no-x share one variable
    const text = env[name];
    if (text === undefined || text === '') continue;
    const source = command.getOptionValueSource(key);
    if (source !== undefined && source !== 'default' && source !== 'implied') continue; // the flag wins
    command.setOptionValueWithSource(key, valueOf(option, name, text, command.getOptionValue(key)), 'env');
  }
}

/**
 * Gives every option of `command` its MAILWIRE_<FLAG> variable: read when the command runs (a bad value is a usage
 * error naming the variable), and shown in `--help` beside each flag.
 */
export function withEnvironment(command: Command, env: Readonly<Record<string, string | undefined>> = process.env): Command {
  return command
    .hook('preAction', (cmd) => {
      try {
        applyEnvironment(cmd, env);
      } catch (error) {
        if (!(error instanceof EnvironmentValueError)) throw error;
        cmd.error(`error: ${error.message}`, { exitCode: 1, code: 'mailwire.environment' });
      }
    })
    .configureHelp({
      optionDescription(this: Help, option: Option): string {
        const base = Help.prototype.optionDescription.call(this, option);
        const name = option.long === '--help' ? null : envNameOf(option);
        return name === null ? base : `${base} [${name}]`;
      },
    })
    .addHelpText('after', `
Every flag can also come from the environment as ${ENV_PREFIX}<FLAG>, shown in [ ] above: --max-message-size 1MiB is
${ENV_PREFIX}MAX_MESSAGE_SIZE=1MiB; a switch takes true or false (--no-http is ${ENV_PREFIX}HTTP=false, --quiet is
${ENV_PREFIX}QUIET=true); a repeatable flag takes a comma-separated list (${ENV_PREFIX}AUTH=a:pw1,b:pw2). An empty variable
counts as unset, and a flag on the command line wins over its variable.`);
}
