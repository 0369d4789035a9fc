/**
 * Tab completion: the bash script `sparsetrace completion` prints, and the
 * completions it asks for. Run ids, job ids and names come from the database
 * (read-only, as `status` reads it); `--by` offers its keys, also after a comma.
 */
import { realpathSync } from 'node:fs';
import { GROUPINGS } from '../report/choices.js';
import { CLI_LAUNCHER } from '../version.js';

/** Options whose value is a file: bash completes file names for them. */
const FILE_OPTIONS = new Set(['--db', '--out', '--model', '--data', '--attach', '--segments', '--work-dir', '--from', '--to', '--queue-password-file']);

/** The value of `--db` among the words, if given. */
function dbFlag(words: readonly string[]): string | undefined {
  for (let k = 0; k < words.length - 1; k++) {
    if (words[k] === '--db') return words[k + 1];
    if (words[k].startsWith('--db=')) return words[k].slice('--db='.length);
  }
  return undefined;
}

/** Run ids, or job ids and names, of the database the command line names (or would use); none if it cannot be read. */
async function fromStore(words: readonly string[], what: 'runs' | 'jobs'): Promise<string[]> {
  try {
    const { databasePath } = await import('./database.js');
    const { closeDatabase, listJobs, listRuns, openDatabase } = await import('../store/index.js');
    const db = openDatabase(databasePath(dbFlag(words)), { readonly: true });
    try {
      return what === 'runs' ? listRuns(db).map((run) => run.run_id) : listJobs(db).flatMap((job) => [String(job.job_id), job.name]);
    } finally {
      closeDatabase(db);
    }
  } catch {
    return [];
  }
}

/**
 * Completions of an option's value for the word being typed, the last of
 * `words` (the command line after the program's name); undefined when the word
 * is a command or an option, which yargs completes.
 */
export async function valueCompletions(words: readonly string[]): Promise<string[] | undefined> {
  const current = words.at(-1) ?? '';
  const previous = words.at(-2) ?? '';
  if (previous === '--run') return fromStore(words, 'runs');
  if (previous === '--job') return [...new Set(await fromStore(words, 'jobs'))];
  if (previous === '--by') {
    // `--by window,d<Tab>`: the keys not yet in the list, after what is typed up to the last comma.
    const typed = current.includes(',') ? current.slice(0, current.lastIndexOf(',') + 1) : '';
    const chosen = new Set(typed.split(',').filter((key) => key !== ''));
    return GROUPINGS.filter((key) => !chosen.has(key)).map((key) => `${typed}${key}`);
  }
  if (FILE_OPTIONS.has(previous)) return [];
  return undefined;
}

/**
 * The bash completion script. It calls this checkout's CLI by its path, so it
 * works whether the command is `sparsetrace` (npm link) or `npx sparsetrace`
 * (the README's set-up, completed when the word after npx is sparsetrace).
 */
export function completionScript(): string {
  const bin = realpathSync(CLI_LAUNCHER);
  const quoted = `'${bin.replace(/'/g, `'\\''`)}'`;
  return `###-begin-sparsetrace-completions-###
# sparsetrace tab completion (bash; zsh: autoload -U bashcompinit && bashcompinit first).
# Installation: npx sparsetrace completion >> ~/.bashrc, then open a new shell.
# It runs ${bin}: print it again if the project moves.
_sparsetrace_completions()
{
    local cur_word type_list
    local -a args
    cur_word="\${COMP_WORDS[COMP_CWORD]}"
    args=("\${COMP_WORDS[@]}")
    if [ "\${args[0]}" = npx ]; then
        if [ "\${COMP_CWORD}" -eq 1 ]; then
            COMPREPLY=( $(compgen -W "sparsetrace" -- "\${cur_word}") )
            return 0
        fi
        # npx with another package: bash's own completion (file names).
        [ "\${args[1]}" = sparsetrace ] || { COMPREPLY=(); return 0; }
        args=("\${args[@]:1}")
    fi
    type_list=$(node ${quoted} --get-yargs-completions "\${args[@]}" 2>/dev/null)
    COMPREPLY=( $(compgen -W "\${type_list}" -- "\${cur_word}") )
    return 0
}
complete -o bashdefault -o default -F _sparsetrace_completions sparsetrace
complete -o bashdefault -o default -F _sparsetrace_completions npx
###-end-sparsetrace-completions-###
`;
}
