export { instanceConfig, instanceConfigObject } from './instance-config.ts';
export {
  daemonEnvironment,
  daemonProgramArguments,
  instancePlist,
  instancePlistObject,
  nginxPlist,
  nginxPlistObject,
  nginxReloadCommand,
  type PlistObject,
  RenewInput,
  renewPlist,
  renewPlistObject,
  toPlistXml,
  VerifyJobInput,
  verifyPlist,
  verifyPlistObject,
} from './launchd.ts';
export {
  type Arch,
  brewPrefixFor,
  INSTANCE_NAME,
  instanceLabel,
  LABEL_PREFIX,
  type Layout,
  LayoutError,
  LayoutInput,
  layoutAsShell,
  type Mode,
  NGINX_LABEL,
  type NginxLayout,
  nginxId,
  resolveLayout,
  servicePath,
  shellQuote,
  type TlsLayout,
  type VerifyLayout,
} from './layout.ts';
export { instanceNewsyslog, nginxNewsyslog } from './newsyslog.ts';
export { isIPv4, MainInput, MOZILLA_INTERMEDIATE, nginxMain, nginxSite, SiteInput } from './nginx.ts';
export {
  judgeVerifyRecord,
  readVerifyRecord,
  VERIFY_RECORD_FILE,
  VerifyRecord,
  type VerifyRecordResult,
  type VerifyVerdict,
} from './verify-record.ts';
