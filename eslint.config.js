import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.switchboard/**', 'apps/*/dist/**', 'apps/*/dist-server/**', 'apps/*/test-results/**', '**/*.d.ts'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/consistent-type-imports': 'error',
      'no-console': 'error',
    },
  },
  {
    files: ['bench/**', 'compat/**', 'test-support/**', '**/test/**', '**/cli.ts', 'scripts/**', '**/bin/**'],
    rules: { 'no-console': 'off' },
  },
)
