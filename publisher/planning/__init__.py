"""A post made into deliveries: rendered per locale, tagged, fitted to each platform's rules."""
