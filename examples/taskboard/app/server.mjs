// Taskboard: the app under test. A small server-rendered project board on db/schema.sql, the
// way an app is usually written: it reads its database from DATABASE_URL when it starts, and
// nothing of pglane. Playwright's `webServer` starts it; pglane puts DATABASE_URL in its
// environment (the embedded database, or yours).
//
//   DATABASE_URL=postgres://... PORT=3000 node examples/taskboard/app/server.mjs
//
// Routes (data-testid in quotes):
//   GET  /health                      200 ok (no database needed)
//   GET  /projects/:id                'project-name', one 'task' per task (data-id, data-status,
//                                     'tag' chips), the 'new-task' form; 404 when unknown
//   POST /projects/:id/tasks          form: title -> creates a task, 303 back
//   GET  /tasks/:id                   'task-title', one 'comment' per comment, 'new-comment' form
//   POST /tasks/:id/comments          form: body -> a comment by the project's owner, 303 back
//   POST /tasks/:id/done              marks the task done, 303 to its project
import http from 'node:http';
import pg from 'pg';

const url = process.env.DATABASE_URL;
if (!url) {
  console.error('[taskboard] DATABASE_URL is not set');
  process.exit(1);
}
const port = Number(process.env.PORT || 3000);
const pool = new pg.Pool({ connectionString: url, max: 4 });
// An idle connection the server closes (a database shut down under the app) lands here.
pool.on('error', (err) => console.error(`[taskboard] database pool error: ${err.code ?? ''} ${err.message}`));

const escape = (s) => String(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const page = (title, body) => `<!doctype html><html><head><meta charset="utf-8"><title>${escape(title)}</title></head><body>${body}</body></html>`;

async function readForm(req) {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > 64 * 1024) throw Object.assign(new Error('form too large'), { status: 413 });
  }
  return new URLSearchParams(body);
}

function send(res, status, html, headers = {}) {
  res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', ...headers });
  res.end(html);
}

const redirect = (res, to) => send(res, 303, '', { location: to });

async function projectPage(res, id) {
  const { rows: [project] } = await pool.query('select id, name from projects where id = $1', [id]);
  if (!project) return send(res, 404, page('not found', '<p data-testid="not-found">no such project</p>'));
  const { rows: tasks } = await pool.query(
    `select t.id, t.title, t.status, coalesce(array_agg(g.name order by g.name) filter (where g.id is not null), '{}') as tags
       from tasks t left join task_tags tt on tt.task_id = t.id left join tags g on g.id = tt.tag_id
      where t.project_id = $1 group by t.id order by t.id`,
    [id],
  );
  const items = tasks
    .map((t) => `<li data-testid="task" data-id="${t.id}" data-status="${t.status}"><a href="/tasks/${t.id}">${escape(t.title)}</a>${t.tags.map((g) => ` <span data-testid="tag">${escape(g)}</span>`).join('')}</li>`)
    .join('');
  send(res, 200, page(project.name, `<h1 data-testid="project-name">${escape(project.name)}</h1><ul>${items}</ul>
    <form data-testid="new-task" method="post" action="/projects/${project.id}/tasks"><input name="title" aria-label="title"><button>Add task</button></form>`));
}

async function taskPage(res, id) {
  const { rows: [task] } = await pool.query('select id, title, project_id from tasks where id = $1', [id]);
  if (!task) return send(res, 404, page('not found', '<p data-testid="not-found">no such task</p>'));
  const { rows: comments } = await pool.query(
    'select c.id, c.body, u.display_name from comments c join users u on u.id = c.author_id where c.task_id = $1 order by c.created_at, c.id',
    [id],
  );
  const items = comments.map((c) => `<li data-testid="comment" data-id="${c.id}">${escape(c.body)} <small>${escape(c.display_name)}</small></li>`).join('');
  send(res, 200, page(task.title, `<h1 data-testid="task-title">${escape(task.title)}</h1><ul>${items}</ul>
    <form data-testid="new-comment" method="post" action="/tasks/${task.id}/comments"><textarea name="body" aria-label="comment"></textarea><button>Comment</button></form>
    <form data-testid="mark-done" method="post" action="/tasks/${task.id}/done"><button>Done</button></form>`));
}

async function handle(req, res) {
  const { pathname } = new URL(req.url, 'http://localhost');
  let m;
  if (req.method === 'GET' && pathname === '/health') return send(res, 200, 'ok');
  if (req.method === 'GET' && (m = pathname.match(/^\/projects\/(\d+)$/))) return projectPage(res, m[1]);
  if (req.method === 'POST' && (m = pathname.match(/^\/projects\/(\d+)\/tasks$/))) {
    const title = ((await readForm(req)).get('title') ?? '').trim();
    if (!title) return send(res, 400, page('bad request', '<p>a task needs a title</p>'));
    await pool.query('insert into tasks (project_id, title) values ($1, $2)', [m[1], title]);
    return redirect(res, `/projects/${m[1]}`);
  }
  if (req.method === 'GET' && (m = pathname.match(/^\/tasks\/(\d+)$/))) return taskPage(res, m[1]);
  if (req.method === 'POST' && (m = pathname.match(/^\/tasks\/(\d+)\/comments$/))) {
    const body = ((await readForm(req)).get('body') ?? '').trim();
    if (!body) return send(res, 400, page('bad request', '<p>a comment needs a body</p>'));
    const { rowCount } = await pool.query(
      'insert into comments (task_id, author_id, body) select t.id, p.owner_id, $2 from tasks t join projects p on p.id = t.project_id where t.id = $1',
      [m[1], body],
    );
    if (!rowCount) return send(res, 404, page('not found', '<p data-testid="not-found">no such task</p>'));
    return redirect(res, `/tasks/${m[1]}`);
  }
  if (req.method === 'POST' && (m = pathname.match(/^\/tasks\/(\d+)\/done$/))) {
    const { rows: [task] } = await pool.query("update tasks set status = 'done' where id = $1 returning project_id", [m[1]]);
    if (!task) return send(res, 404, page('not found', '<p data-testid="not-found">no such task</p>'));
    return redirect(res, `/projects/${task.project_id}`);
  }
  send(res, 404, page('not found', '<p data-testid="not-found">not found</p>'));
}

const server = http.createServer((req, res) => {
  handle(req, res).catch((err) => {
    console.error(`[taskboard] ${req.method} ${req.url}: ${err.code ?? ''} ${err.message}`);
    if (!res.headersSent) send(res, err.status ?? 500, page('error', '<p>something went wrong</p>'));
  });
});
server.listen(port, '127.0.0.1', () => console.log(`[taskboard] http://127.0.0.1:${port}`));

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.once(signal, () => {
    server.close();
    pool.end().finally(() => process.exit(0));
  });
}
