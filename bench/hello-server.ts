// The baseline: the smallest graphql-yoga server, so keyport's numbers can be read relative to
// what yoga itself costs on this machine. Started by run.ts with PORT and HOST set.
import { createServer } from "node:http";
import { createSchema, createYoga } from "graphql-yoga";

const yoga = createYoga({
  schema: createSchema({
    typeDefs: "type Query { hello: String }",
    resolvers: { Query: { hello: () => "Hello world!" } },
  }),
  graphqlEndpoint: "/graphql",
  landingPage: false,
  logging: "warn",
});

const port = Number(process.env.PORT ?? "4000");
const host = process.env.HOST ?? "127.0.0.1";
const server = createServer(yoga);
server.listen(port, host);

const shutdown = () => {
  server.close();
  server.closeAllConnections();
  process.exit(0);
};
process.once("SIGINT", shutdown);
process.once("SIGTERM", shutdown);
// run.ts holds our stdin open; when it goes away (even killed), do not outlive it.
process.stdin.on("end", shutdown);
process.stdin.on("error", shutdown);
process.stdin.resume();
