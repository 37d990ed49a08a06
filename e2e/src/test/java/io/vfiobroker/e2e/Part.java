package io.vfiobroker.e2e;

import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Which boot and which scenario script a real-kernel test reads: the e2e README's table is generated from these
 * (SuiteReadme), so it names what the suite runs. On a class it is the default for its methods.
 */
@Retention(RetentionPolicy.RUNTIME)
@Target({ElementType.TYPE, ElementType.METHOD})
@interface Part {
    /** The boot ({@link Matrix#BROKER}, {@link Matrix#LEASES}, {@link Matrix#CRASH}, a self-test's scenario, or "" for none). */
    String boot() default "";

    /** The script under e2e/vm/scenarios (and its part), or what runs on the host. */
    String script() default "";

    /** Where a test that is not parameterized by boot runs (a parameterized one's boots come from its @MethodSource). */
    String on() default "";
}
