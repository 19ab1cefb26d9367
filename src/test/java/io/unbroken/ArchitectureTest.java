package io.unbroken;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.GeneralCodingRules.NO_CLASSES_SHOULD_USE_JAVA_UTIL_LOGGING;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

/** The layering rules of the code: who may see which implementation, and what never runs on an event loop. */
class ArchitectureTest {

  private static JavaClasses classes;

  @BeforeAll
  static void importMainClasses() {
    classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages("io.unbroken");
  }

  @ParameterizedTest
  @ValueSource(strings = {"ids", "idempotency", "events", "locks", "saga", "zombie", "repair"})
  void onlyTheCompositionRootSeesACapabilitysRedisOrPostgresImplementation(String capability) {
    noClasses().that().resideOutsideOfPackages("io.unbroken", "io.unbroken." + capability + "..")
        .should().dependOnClassesThat().resideInAnyPackage(
            "io.unbroken." + capability + ".redis..", "io.unbroken." + capability + ".pg..")
        .allowEmptyShould(true)
        .check(classes);
  }

  @Test
  void onlyTheCompositionRootSeesTheEmbeddedImplementations() {
    noClasses().that().resideOutsideOfPackages("io.unbroken", "io.unbroken.embedded..")
        .should().dependOnClassesThat().resideInAPackage("io.unbroken.embedded..")
        .check(classes);
  }

  @Test
  void nothingSleeps() {
    noClasses().should().callMethod(Thread.class, "sleep", long.class).check(classes);
  }

  @Test
  void onlyMigrationsUseBlockingJdbc() {
    noClasses().that().resideOutsideOfPackage("io.unbroken.platform")
        .should().dependOnClassesThat().resideInAPackage("java.sql..")
        .check(classes);
  }

  @Test
  void logsGoThroughSlf4j() {
    NO_CLASSES_SHOULD_USE_JAVA_UTIL_LOGGING.check(classes);
    noClasses().that().doNotHaveFullyQualifiedName(Unbroken.class.getName())
        .should().accessField(System.class, "out").orShould().accessField(System.class, "err")
        .because("only the command line prints (its one-line startup errors); everything else logs")
        .check(classes);
  }
}
