/**
 * The FHIR R4 read/search API as a Nest module (Express platform), backed by a FhirStore:
 *
 *   FhirApiModule.forRoot({ store })
 *   FhirApiModule.forRootAsync({ inject: [FhirStore], useFactory: (store) => ({ store }) })
 */
import { type DynamicModule, Module } from '@nestjs/common';
import { FHIR_API_OPTIONS, type FhirApiModuleOptions } from './fhir-api.options';
import { FhirController } from './fhir.controller';

export interface FhirApiModuleAsyncOptions {
  imports?: DynamicModule['imports'];
  inject?: (string | symbol | (abstract new (...args: never[]) => unknown))[];
  useFactory: (...args: never[]) => FhirApiModuleOptions | Promise<FhirApiModuleOptions>;
}

@Module({})
export class FhirApiModule {
  static forRootAsync(options: FhirApiModuleAsyncOptions): DynamicModule {
    return {
      module: FhirApiModule,
      imports: options.imports ?? [],
      controllers: [FhirController],
      providers: [
        {
          provide: FHIR_API_OPTIONS,
          useFactory: options.useFactory,
          inject: options.inject ?? [],
        },
      ],
    };
  }

  static forRoot(options: FhirApiModuleOptions): DynamicModule {
    return FhirApiModule.forRootAsync({ useFactory: () => options });
  }
}
