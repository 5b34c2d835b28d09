// Pull request comments for the GitHub stand-in: list (paginated), create, update.
import { type GitHubRoute, notFound, paginate } from './github-api.ts';

export interface StoredComment {
  id: number;
  body: string;
  html_url: string;
}

export interface CommentState {
  /** `${owner}/${repo}#${number}` -> comments, oldest first */
  comments: Map<string, StoredComment[]>;
}

export function newCommentState(): CommentState {
  return { comments: new Map() };
}

export function githubCommentRoutes(state: CommentState): GitHubRoute[] {
  let nextId = 1000;
  const parse = (body: Buffer): string => {
    const text = (JSON.parse(body.toString('utf8')) as { body?: unknown }).body;
    if (typeof text !== 'string') throw new Error('body must be a string');
    return text;
  };
  const find = (owner: string, repo: string, id: number): StoredComment | undefined => {
    for (const [key, list] of state.comments) if (key.startsWith(`${owner}/${repo}#`)) return list.find((c) => c.id === id);
    return undefined;
  };
  return [
    {
      method: 'GET',
      pattern: /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/,
      handle: (req) => paginate(req, state.comments.get(`${req.params[0]}/${req.params[1]}#${req.params[2]}`) ?? []),
    },
    {
      method: 'POST',
      pattern: /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/,
      handle: (req) => {
        const key = `${req.params[0]}/${req.params[1]}#${req.params[2]}`;
        const id = nextId++;
        const comment = {
          id,
          body: parse(req.body),
          html_url: `https://github.test/${req.params[0]}/${req.params[1]}/pull/${req.params[2]}#issuecomment-${id}`,
        };
        state.comments.set(key, [...(state.comments.get(key) ?? []), comment]);
        return { status: 201, body: comment };
      },
    },
    {
      method: 'PATCH',
      pattern: /^\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)$/,
      handle: (req) => {
        const comment = find(req.params[0]!, req.params[1]!, Number(req.params[2]));
        if (comment === undefined) return notFound();
        comment.body = parse(req.body);
        return { status: 200, body: comment };
      },
    },
  ];
}
