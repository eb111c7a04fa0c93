import type { LintFinding } from '../../lint/types.js';
import { firstLine } from '../../sql/statement.js';
import { checkMysqlStatement, MYSQL_RULES, newMysqlScope } from './lint-rules.js';
import { splitMysqlStatements } from './split.js';

/** Most characters of a statement shown in a finding. */
const STATEMENT_START = 100;

/**
 * The findings of the MySQL/MariaDB rules in one migration's SQL, in statement order: the script split as the
 * engine runs it (DELIMITER lines included), each statement read clause by clause.
 */
export function lintMysqlSql(sql: string): readonly LintFinding[] {
  const scope = newMysqlScope();
  const findings: LintFinding[] = [];
  for (const statement of splitMysqlStatements(sql)) {
    for (const key of checkMysqlStatement(statement.text, scope)) {
      const rule = MYSQL_RULES[key];
      findings.push({
        rule: rule.id,
        reason: rule.reason,
        fix: rule.fix,
        line: statement.line,
        statement: firstLine(statement.text.replace(/\s+/g, ' '), STATEMENT_START),
      });
    }
  }
  return findings;
}
