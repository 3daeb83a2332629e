// The providers the catalog must ship (the integrations keyport is seeded for).
export const seedProviderKeys = [
  "gmail",
  "google-calendar",
  "telegram",
  "whatsapp",
  "linear",
  "amocrm",
  "hubspot",
  "salesforce",
  "notion",
  "zendesk",
  "github",
  "slack",
] as const;
