export {
  type Config,
  ConfigInput,
  DEFAULT_HOST,
  DEFAULT_PORT,
  STATE_FILES,
  defaultStateDir,
  ENV_VARS,
  indexDirFor,
  isLoopbackHost,
  LOOPBACK_NAMES,
  type LoadConfigOptions,
  loadConfig,
} from './config.ts';
