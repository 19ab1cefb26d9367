package io.unbroken.config;

/**
 * Configuration that cannot be used. The message is one line naming where the value came from
 * (file and line, environment variable or flag), the key, and what is wrong with it.
 */
public final class ConfigException extends RuntimeException {

  public ConfigException(String origin, String key, String problem) {
    super(origin + ": " + key + ": " + problem);
  }

  public ConfigException(String message) {
    super(message);
  }
}
