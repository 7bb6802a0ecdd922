// A benchmark part in a process of its own (DBOS is a process-wide singleton; the crash campaign
// kills its own workers): it sends one result over IPC and exits. The tail of its stderr is kept
// to say why, if it exits without one.
import { fork } from 'node:child_process';

export function resultOfChild<T>(script: URL, args: string[], what: string): Promise<T> {
  return new Promise((resolve, reject) => {
    const child = fork(script, args, { execArgv: ['--import=tsx'], stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr!.on('data', (d) => (stderr = (stderr + d).slice(-4000)));
    let result: T | undefined;
    child.on('message', (m: T) => (result = m));
    child.on('exit', (code, signal) => (result ? resolve(result) : reject(new Error(`${what} exited with ${code ?? signal}:\n${stderr}`))));
  });
}
