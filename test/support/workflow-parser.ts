// GitHub's own workflow parser (@actions/workflow-parser: the workflow schema, expression syntax,
// the job graph, cron) as a validator, since actionlint is not installable here.
import { register } from 'node:module';
import type { WorkflowTemplate } from '@actions/workflow-parser';

// The package imports its schema as `import WorkflowSchema from "../workflow-v1.0.min.json"`, without
// `with { type: 'json' }`, which Node 20 refuses (ERR_IMPORT_ATTRIBUTE_MISSING). Vitest leaves
// node_modules to Node's own loader, so a load hook adds the attribute for this package's JSON only;
// the alternative, inlining the package in vitest.config.ts, floods the output with sourcemap warnings.
const ADD_JSON_ATTRIBUTE = `export async function load(url, context, nextLoad) {
  if (url.endsWith('.json') && url.includes('/@actions/workflow-parser/') && context.importAttributes?.type === undefined) {
    return nextLoad(url, { ...context, importAttributes: { ...context.importAttributes, type: 'json' } });
  }
  return nextLoad(url, context);
}`;
register(`data:text/javascript,${encodeURIComponent(ADD_JSON_ATTRIBUTE)}`);
const { parseWorkflow, convertWorkflowTemplate, NoOperationTraceWriter } = await import('@actions/workflow-parser');

export interface ParsedWorkflow {
  /** Every error the parser and the converter reported, like `x.yml (Line: 5, Col: 5): Unexpected value 'foo'`. */
  errors: string[];
  /** The workflow as GitHub models it (events, jobs with needs and if); undefined when the YAML did not parse. */
  template: WorkflowTemplate | undefined;
}

/** Parses and converts a workflow the way GitHub does, collecting every reported error. */
export async function parseGitHubWorkflow(name: string, content: string): Promise<ParsedWorkflow> {
  const parsed = parseWorkflow({ name, content }, new NoOperationTraceWriter());
  const template = parsed.value === undefined ? undefined : await convertWorkflowTemplate(parsed.context, parsed.value);
  // The converter adds its errors to the context (and copies them into template.errors).
  const errors = new Set(parsed.context.errors.getErrors().map((e) => e.message));
  for (const e of template?.errors ?? []) errors.add(e.Message);
  if (parsed.value === undefined && errors.size === 0) errors.add(`${name}: not a workflow`);
  return { errors: [...errors], template };
}
