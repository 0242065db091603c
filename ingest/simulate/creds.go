package simulate

import (
	"cmp"
	"fmt"

	"github.com/leadbridge/leadbridge/cmd/config"
	"github.com/leadbridge/leadbridge/schema"
)

// Environment variables simulate reads its secrets from, so that they need
// not appear on a command line (shell history, ps).
const (
	EnvToken    = "LEADBRIDGE_SIM_TOKEN"    // Aurora header token
	EnvPassword = "LEADBRIDGE_SIM_PASSWORD" // Aurora basic auth password
	EnvSecret   = "LEADBRIDGE_SIM_SECRET"   // LeadPro signing secret
)

// Creds are the credentials given by flags or LEADBRIDGE_SIM_* variables.
type Creds struct {
	Token, BasicPass, Secret schema.Secret
	Header, BasicUser        string
}

// OrEnv fills the secrets c leaves empty from the LEADBRIDGE_SIM_*
// variables: a flag wins over the environment.
func (c Creds) OrEnv(getenv func(string) string) Creds {
	c.Token = cmp.Or(c.Token, schema.Secret(getenv(EnvToken)))
	c.BasicPass = cmp.Or(c.BasicPass, schema.Secret(getenv(EnvPassword)))
	c.Secret = cmp.Or(c.Secret, schema.Secret(getenv(EnvSecret)))
	return c
}

// AuroraComplete reports whether the flags alone authenticate an Aurora delivery.
func (c Creds) AuroraComplete() bool {
	if c.BasicUser != "" {
		return c.BasicPass != ""
	}
	return c.Token != ""
}

// WantsConfig reports whether the configuration should be read for the
// credentials: always when a file is named; from the LEADBRIDGE_* variables
// only when creds and the flags do not authenticate a delivery alone.
func (s *Simulator) WantsConfig(creds Creds, tenant, account string, fromFile bool, getenv func(string) string) bool {
	complete := (s.Provider == schema.ProviderAurora && tenant != "" && creds.AuroraComplete()) ||
		(s.Provider != schema.ProviderAurora && account != "" && creds.Secret != "")
	envConfig := getenv("LEADBRIDGE_AURORA_TENANT_ID") != "" || getenv("LEADBRIDGE_LEADPRO_ACCOUNT_ID") != ""
	return fromFile || (!complete && envConfig)
}

// Authenticate fills the tenant or account and its credentials, from creds
// first and from cfg (nil: no configuration) for whatever creds leave out.
// Its errors say what to give; they never carry a secret.
func (s *Simulator) Authenticate(creds Creds, tenant, account string, c *config.Config) error {
	aurora := s.Provider == schema.ProviderAurora
	haveCfg := c != nil
	var cfg config.Config
	if haveCfg {
		cfg = *c
	}
	if aurora {
		return s.auroraAuth(creds, tenant, cfg, haveCfg)
	}
	s.Account = account
	var acct *config.Account
	for i := range cfg.LeadPro.Accounts {
		if a := &cfg.LeadPro.Accounts[i]; account == "" || a.ID == account {
			acct = a
			break
		}
	}
	if s.Account == "" && acct != nil {
		s.Account = acct.ID
	}
	s.Secret = creds.Secret
	if s.Secret == "" && acct != nil {
		s.Secret = acct.SigningSecrets[0]
	}
	switch {
	case s.Account == "":
		return fmt.Errorf("leadpro needs --account, or a configuration with an account (--config)")
	case s.Secret == "" && haveCfg:
		return fmt.Errorf("account %s is not in the configuration; give --secret or $%s", s.Account, EnvSecret)
	case s.Secret == "":
		return fmt.Errorf("leadpro needs a signing secret: $%s, --secret or --config", EnvSecret)
	}
	return nil
}

func (s *Simulator) auroraAuth(creds Creds, tenant string, cfg config.Config, haveCfg bool) error {
	s.Tenant = tenant
	var tc *config.Tenant
	for i := range cfg.Aurora.Tenants {
		if t := &cfg.Aurora.Tenants[i]; tenant == "" || t.ID == tenant {
			tc = t
			break
		}
	}
	if s.Tenant == "" && tc != nil {
		s.Tenant = tc.ID
	}
	if s.Tenant == "" {
		return fmt.Errorf("aurora needs --tenant, or a configuration with a tenant (--config)")
	}
	var cfgBasic *config.Basic
	if tc != nil {
		cfgBasic = tc.WebhookAuth.Basic
	}
	switch {
	case creds.BasicUser != "": // basic auth from the flags
		s.BasicUser, s.BasicPass = creds.BasicUser, creds.BasicPass
		if s.BasicPass == "" && cfgBasic != nil {
			s.BasicPass = cfgBasic.Passwords[0]
		}
	case creds.Token != "": // a header token from the flags
		s.Token = creds.Token
		s.Header = creds.Header
		if s.Header == "" && tc != nil && cfgBasic == nil {
			s.Header = tc.WebhookAuth.Header
		}
		s.Header = cmp.Or(s.Header, "X-Aurora-Webhook-Token")
	case cfgBasic != nil: // the configured basic auth, maybe with another password
		s.BasicUser, s.BasicPass = cfgBasic.Username, cmp.Or(creds.BasicPass, cfgBasic.Passwords[0])
	case tc != nil: // the configured header token
		s.Header, s.Token = cmp.Or(creds.Header, tc.WebhookAuth.Header), tc.WebhookAuth.Tokens[0]
	case haveCfg:
		return fmt.Errorf("tenant %s is not in the configuration; give --token (or $%s) or --basic-user and --basic-pass", s.Tenant, EnvToken)
	default:
		return fmt.Errorf("aurora needs credentials: $%s or --token, --basic-user with --basic-pass (or $%s), or --config",
			EnvToken, EnvPassword)
	}
	if s.BasicUser != "" && s.BasicPass == "" {
		return fmt.Errorf("--basic-user needs a password: $%s or --basic-pass", EnvPassword)
	}
	return nil
}
