// A tiny dev server: it serves on $PORT and answers every request with the folder it runs
// in, so a test can tell which checkout's server it reached.
const http = require('node:http');

const port = Number(process.env.PORT);
http
  .createServer((request, reply) => reply.end(process.cwd()))
  .listen(port, '127.0.0.1', () => console.log(`serving ${process.cwd()} on http://127.0.0.1:${port}`));
