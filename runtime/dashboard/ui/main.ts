// The dashboard page's entry: the top bar and the view the URL's hash names (route.ts).
import { html } from 'htm/preact';
import { render } from 'preact';
import { ExecutorsPage } from './executors.ts';
import { QueuesPage } from './queues.ts';
import { useRoute } from './route.ts';
import { SchedulesPage } from './schedules.ts';
import { WorkflowPage } from './workflow.ts';
import { WorkflowsPage } from './workflows.ts';

const PAGES = [
  ['workflows', 'Workflows'],
  ['queues', 'Queues'],
  ['schedules', 'Schedules'],
  ['executors', 'Executors'],
] as const;

function App() {
  const route = useRoute();
  const current = route.page === 'workflow' ? 'workflows' : route.page;
  let view;
  switch (route.page) {
    case 'workflow':
      // keyed by ID: another workflow's page starts afresh, with no data of the previous one
      view = html`<${WorkflowPage} key=${route.arg} id=${route.arg} />`;
      break;
    case 'queues':
      view = html`<${QueuesPage} />`;
      break;
    case 'schedules':
      view = html`<${SchedulesPage} />`;
      break;
    case 'executors':
      view = html`<${ExecutorsPage} />`;
      break;
    case 'workflows':
      view = html`<${WorkflowsPage} params=${route.params} />`;
      break;
    default:
      view = html`<section><h1>Not found</h1><p><a href="#/workflows">Workflows</a></p></section>`;
  }
  return html`<header class="top">
      <a class="brand" href="#/workflows">skein</a>
      <nav>${PAGES.map(([page, label]) => html`<a href=${`#/${page}`} class=${current === page ? 'current' : ''} aria-current=${current === page ? 'page' : undefined}>${label}</a>`)}</nav>
    </header>
    <main>${view}</main>`;
}

render(html`<${App} />`, document.getElementById('app')!);
