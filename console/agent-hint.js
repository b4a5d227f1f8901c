// What to run when the desktop agent does not answer: the exact command that starts it on the
// Agent URL's address, trusting this server's issuer (the agent refuses options from any
// issuer it was not told to trust).
import { authBase } from './api.js';
import { h } from './dom.js';

const DEFAULT_PORT = '9410';
const LOOPBACK = new Set(['127.0.0.1', 'localhost']);

/** `npm run agent -- --trust <auth base>`, plus --host / --port when the Agent URL is not the default address. */
export function agentCommand(agentUrl) {
  const args = ['--trust', authBase()];
  let url;
  try {
    url = new URL(agentUrl);
  } catch {
    url = undefined;
  }
  if (url) {
    const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
    const port = url.port || (url.protocol === 'https:' ? '443' : '80');
    if (!LOOPBACK.has(host)) args.push('--host', host);
    if (port !== DEFAULT_PORT) args.push('--port', port);
  }
  return args.join(' ');
}

/** The hint shown under an AGENT_UNREACHABLE alert. */
export function agentHint(agentUrl) {
  const args = agentCommand(agentUrl);
  return h('div', { class: 'agent-hint', role: 'note', 'aria-label': 'How to start the desktop agent' },
    h('p', {}, `The desktop agent is not running at ${agentUrl}. Start it in a terminal, from the OpenMFA folder:`),
    h('pre', {}, h('code', { class: 'agent-command' }, `npm run agent -- ${args}`)),
    h('p', {}, 'or, with OpenMFA installed as a package: ', h('code', {}, `npx openmfa agent ${args}`), '. Then select "Pair with desktop agent" again.'));
}
